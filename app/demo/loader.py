"""Builds the demo district. (Placeholder until the demo work lands: creates nothing.)"""


def load_demo(session) -> list[str]:
    return ["demo data: not built yet"]
