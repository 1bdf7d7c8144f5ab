"""The public name of a function as a ``__torch_function__`` handler receives it, read the same
way in minigrad and in torch, so that the two libraries' records of calls can be compared
(tests/test_torch_function.py, tests/test_torch_function_mode.py)."""


def public_name(lib, func):
    """The public name of ``func`` in ``lib``: 'add', 'Tensor.sum', 'F.linear',
    'Tensor.T.__get__'."""
    for prefix, space in (("", lib), ("F.", lib.nn.functional), ("linalg.", lib.linalg),
                          ("fft.", lib.fft)):
        for name in dir(space):
            if not name.startswith("_") and getattr(space, name, None) is func:
                return prefix + name
    # (a method before a dunder that is the same object: torch's __pos__ is its positive)
    for name in sorted(dir(lib.Tensor), key=lambda n: (n.startswith("__"), n)):
        attr = getattr(lib.Tensor, name, None)
        if attr is func or attr == func:
            return "Tensor." + name
        for klass in lib.Tensor.__mro__:
            prop = vars(klass).get(name)
            if prop is not None and hasattr(prop, "__get__") and not callable(prop) and \
                    prop.__get__ == func:
                return f"Tensor.{name}.__get__"
    return repr(func)
