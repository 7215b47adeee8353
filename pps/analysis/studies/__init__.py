"""The studies beyond the paper: compute overhead (`pps overhead`) and agent-count scaling (`pps scaling`)."""
