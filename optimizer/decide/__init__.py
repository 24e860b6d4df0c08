"""The decision: next best action for one lead or a pool, behind the compliance gate."""
