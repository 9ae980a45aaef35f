"""Files in and out: video decoding (the only PyAV user), the watched decoding child, and atomic
writes."""
