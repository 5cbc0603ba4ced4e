"""The benchmark (make bench): generated records, the floor, the runner."""
