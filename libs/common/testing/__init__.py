"""Test support shared by every service's tests: profiles, throwaway databases, a running app."""
