"""Reads for the monitoring pages, with the user's area scope applied and a fixed number of queries."""

# -- the update cycle's scorecard ---------------------------------------------------------------------------


# -- the scorecard ends here ---------------------------------------------------------------------------------


# -- the desil change feed ----------------------------------------------------------------------------------


# -- the desil change feed ends here -------------------------------------------------------------------------
