"""Readers and writers for the file formats users have: dataset folders, MDM results, our interchange."""
