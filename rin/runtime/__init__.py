"""What every command shares at run time, training or not: the process layout, the metrics log and
the check of an output directory before any work."""
