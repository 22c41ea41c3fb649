"""The reference oracle of nnconform: every catalogue algorithm as a float64 numpy function.

Each module holds one family of the catalogue (``activations``, ``losses``, ``optimizers``
and ``solvers``, ``schedules``, ``normalization``, ``regularization``, ``layers``,
``landscape``, ``evaluation``); ``registry`` maps every catalogue id to its functions.
The functions are pure: state comes in and goes out explicitly, randomness arrives as a
``numpy.random.Generator`` or an explicit mask, and nothing is modified in place.
"""
