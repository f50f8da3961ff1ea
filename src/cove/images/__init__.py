"""cove.images"""
