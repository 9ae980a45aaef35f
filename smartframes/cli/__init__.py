"""The ``smartframes`` command: the parser and the error handling (:mod:`.main`), what several
subcommands share (:mod:`.args`), and one module per subcommand, each declaring its options
(``add_parser``) and doing its work (``run``); ``demo`` and ``bench`` are whole jobs of their own."""
