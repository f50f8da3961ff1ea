"""cove.network"""
