"""cove.runtime.native"""
