"""Qt-free foundations shared by every other package: paths, errors, result types."""
