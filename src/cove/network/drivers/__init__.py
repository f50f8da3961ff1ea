"""cove.network.drivers"""
