"""The only code in cove that touches the kernel: netlink, netns, nftables, sysctl, mounts.

Each module is a small seam with plain-data arguments, so the layers above can be tested
against in-memory twins where the behaviour under test is pure logic.
"""
