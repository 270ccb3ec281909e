"""External delivery channels: each turns one delivery row into one send, raising on failure."""
