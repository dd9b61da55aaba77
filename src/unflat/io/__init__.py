"""Reading and writing files: photos, input lists, depth maps, point clouds.

Everything here turns files into the plain types of :mod:`unflat.types` (or numpy arrays) and
back; a file the user can fix raises :class:`unflat.errors.InputError` or
:class:`unflat.errors.OutputError`, and every write goes through a temporary file and a rename
(:mod:`unflat.io.atomic`) so a failed run never leaves a half-written output.
"""
