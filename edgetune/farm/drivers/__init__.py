"""Drivers: the pieces that talk to one resource each (processes, tracker, SSH, serial, power)."""
