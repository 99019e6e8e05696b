"""The engine: experiments to cells, policies per cell, lockstep rollouts, shards on Ray or
in-process, the rows they record."""
