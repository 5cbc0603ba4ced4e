"""Pure clinical logic (RULES.md R1-R10): plain data in, an Assessment out; no Flask, no I/O, clock passed in."""
