"""Throwaway areas for tests of the house: each is a package that plugs into the app with no edit elsewhere."""
