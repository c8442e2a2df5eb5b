"""(stub: filled in by its issue)"""


def register():
    pass


def unregister():
    pass
