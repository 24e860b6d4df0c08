"""``optimizer demo``: the whole optimizer against a simulated world, beside a naive engine."""
