"""A run of an SOP: events in, state out (``state``), and the rules of what may happen next (``machine``)."""
