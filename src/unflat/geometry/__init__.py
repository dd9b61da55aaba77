"""Geometry shared by every capability: rotations, projection and unprojection."""
