"""`make run`: the whole Lifeline stack on one machine, embedded servers by default."""
