"""The shop at a glance: the console's home figures and what needs attention."""
