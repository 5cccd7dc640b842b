"""ntlib — runnable companion to He & Glass (ACL 2020), "Negative Training for Neural
Dialogue Response Generation". One module per concept of the paper; see README.md."""
__version__ = "0.1.0"
