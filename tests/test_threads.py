"""``torch_threads``: torch's intra-op threads for a block, restored afterwards."""

from __future__ import annotations

import pytest
import torch

from allocgym._threads import check_threads, torch_threads
from allocgym.exceptions import ConfigError


@pytest.fixture
def three_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield
    torch.set_num_threads(before)


def test_the_block_runs_on_n_threads_and_the_old_count_comes_back(three_threads):
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 3
    with pytest.raises(KeyError), torch_threads(2):
        assert torch.get_num_threads() == 2
        raise KeyError("a failing block")
    assert torch.get_num_threads() == 3


def test_none_leaves_the_threads_as_they_are(three_threads):
    with torch_threads(None):
        assert torch.get_num_threads() == 3
    assert torch.get_num_threads() == 3


@pytest.mark.parametrize("bad", [0, -2, 1.0, False, "1", None])
def test_a_thread_count_must_be_a_whole_number_of_at_least_one(bad, three_threads):
    with pytest.raises(ConfigError, match=rf"threads={bad!r} is invalid"):
        check_threads(bad)
    if bad is not None:  # None means "leave them" to torch_threads
        with pytest.raises(ConfigError, match=rf"threads={bad!r} is invalid"), torch_threads(bad):
            pass
    assert torch.get_num_threads() == 3
    assert check_threads(4) == 4
