"""The LXC execution driver: containers run by Debian's ``lxc-execute`` from a generated
config, joining the sandbox netns by path (see :mod:`cove.runtime.lxc.driver`)."""
