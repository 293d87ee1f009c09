"""fengkong (风控): real-time risk control for consumer-credit and payment apps."""

__version__ = "0.1.0"
