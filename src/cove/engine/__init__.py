"""cove.engine"""
