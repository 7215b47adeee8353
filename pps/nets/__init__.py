"""Agent networks (slot-stacked recurrent Q-networks) and value-decomposition mixers."""
