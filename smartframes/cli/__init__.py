"""The ``smartframes`` command: argument parsing (:mod:`.main`), and the two commands that are whole
jobs of their own, ``demo`` and ``bench``."""
