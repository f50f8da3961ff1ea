"""Tests against a real etcd server started by the test session."""
