"""Cluster scope: node membership, global overlay networks, global IPAM, the peer table.

Everything here lives in etcd (through :mod:`cove.store.etcd`) and is shared by every
host of a cluster; local objects stay in the embedded store.
"""
