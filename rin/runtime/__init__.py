"""What every command shares at run time, training or not: the process layout and the metrics log."""
