"""``torch.hub``: checkpoints fetched by URL, and models published as a ``hubconf.py``.

``load_state_dict_from_url(url)`` downloads a checkpoint once into ``get_dir()/checkpoints``
and reads it with ``minigrad.load``: a safetensors file, or a PyTorch ``.pth`` written by
``torch.save`` (a zip of pickles; unpickled with PyTorch's weights_only allowlist when
``weights_only=True``); the legacy pre-1.6 pickle is refused with a ValueError that says so.
``load(repo_or_dir, 'entry')`` imports the ``hubconf.py`` of a local directory
(``source='local'``) or of a GitHub repository downloaded as a zip (``source='github'``,
``'owner/repo[:ref]'``) and calls its entry point.  The cache layout,
the trusted-repository list, the messages and the errors are PyTorch's.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import sys
import uuid
import zipfile
from urllib.error import HTTPError, URLError
from urllib.parse import urlparse
from urllib.request import Request, urlopen

from ._warn_once import warn_user
from . import serialization

__all__ = ["download_url_to_file", "get_dir", "help", "list", "load",
           "load_state_dict_from_url", "set_dir"]

_HUBCONF = "hubconf.py"
_CHUNK = 1 << 17
_HASH_IN_NAME = re.compile(r"-([a-f0-9]*)\.")      # 'resnet18-5c106cde.pth' -> '5c106cde'
_KNOWN_OWNERS = ("facebookresearch", "facebookincubator", "pytorch", "fairinternal")
_hub_dir = None                                     # set by set_dir()


# ----------------------------------------------------------------------------------------------
# The cache directory
# ----------------------------------------------------------------------------------------------
def get_dir():
    """The hub cache directory: the one given to ``set_dir``, else ``$TORCH_HOME/hub``, where
    ``$TORCH_HOME`` defaults to ``$XDG_CACHE_HOME/torch`` and ``$XDG_CACHE_HOME`` to
    ``~/.cache``.  This is PyTorch's directory on purpose: a checkpoint or repository that
    either library downloaded is found by the other.  The environment is read at each call;
    nothing is created here."""
    if os.getenv("TORCH_HUB"):
        warn_user("TORCH_HUB is deprecated, please use env TORCH_HOME instead")
    if _hub_dir is not None:
        return _hub_dir
    home = os.getenv("TORCH_HOME")
    if home is None:
        home = os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch")
    return os.path.join(os.path.expanduser(home), "hub")


def set_dir(d):
    """Use ``d`` (a str or path, ``~`` expanded) as the hub cache directory from now on."""
    global _hub_dir
    _hub_dir = os.path.expanduser(d)


# ----------------------------------------------------------------------------------------------
# Downloads
# ----------------------------------------------------------------------------------------------
class _Progress:
    """A one-line progress report on stderr (percent when the size is known, else bytes)."""

    def __init__(self, total, shown):
        self.total, self.shown, self.done = total, shown, 0

    def add(self, n):
        if not self.shown:
            return
        self.done += n
        if self.total:
            sys.stderr.write(f"\r{100.0 * self.done / self.total:5.1f}% of {self.total} bytes")
        else:
            sys.stderr.write(f"\r{self.done} bytes")
        sys.stderr.flush()

    def close(self):
        if self.shown and self.done:
            sys.stderr.write("\n")


def download_url_to_file(url, dst, hash_prefix=None, progress=True):
    """Save what ``url`` serves at ``dst``.  The bytes go to a temporary file next to
    ``dst`` that replaces it only once complete (an interrupted download never leaves a
    truncated ``dst``).  With ``hash_prefix``, the SHA-256 of the content must start with
    it, else RuntimeError and ``dst`` is left untouched.  ``progress``: report on stderr."""
    dst = os.path.expanduser(dst)
    while True:                          # an unused temporary name in dst's directory
        partial = f"{dst}.{uuid.uuid4().hex}.partial"
        try:
            out = open(partial, "xb")
            break
        except FileExistsError:
            continue
    try:
        with out, urlopen(Request(url, headers={"User-Agent": "minigrad.hub"})) as response:
            size = response.headers.get("Content-Length")
            bar = _Progress(int(size) if size else None, progress)
            digest = hashlib.sha256() if hash_prefix is not None else None
            while True:
                block = response.read(_CHUNK)
                if not block:
                    break
                out.write(block)
                if digest is not None:
                    digest.update(block)
                bar.add(len(block))
            bar.close()
        if digest is not None:
            got = digest.hexdigest()
            if not got.startswith(hash_prefix):
                raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got "{got}")')
        os.replace(partial, dst)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def load_state_dict_from_url(url, model_dir=None, map_location=None, progress=True,
                             check_hash=False, file_name=None, weights_only=False):
    """The checkpoint at ``url``, downloaded into ``model_dir`` (default
    ``get_dir()/checkpoints``) unless a file of that name is already there, then read with
    ``minigrad.load(path, map_location=...)``.  The file name is the URL's last path part
    (or ``file_name``).  ``check_hash``: the name must look like ``name-<sha256 prefix>.ext``
    and the download must match that prefix.  ``weights_only`` goes to ``minigrad.load``
    (it matters for a torch.save file only: safetensors files hold no pickle)."""
    if os.getenv("TORCH_MODEL_ZOO"):
        warn_user("TORCH_MODEL_ZOO is deprecated, please use env TORCH_HOME instead")
    if model_dir is None:
        model_dir = os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    name = file_name if file_name is not None else os.path.basename(urlparse(url).path)
    cached = os.path.join(model_dir, name)
    if not os.path.exists(cached):
        sys.stdout.write(f'Downloading: "{url}" to {cached}\n')
        prefix = None
        if check_hash:
            found = _HASH_IN_NAME.search(name)
            prefix = found.group(1) if found else None
        download_url_to_file(url, cached, prefix, progress=progress)
    return serialization.load(cached, map_location=map_location, weights_only=weights_only)


# ----------------------------------------------------------------------------------------------
# Repositories from GitHub
# ----------------------------------------------------------------------------------------------
def _parse_repo(github):
    """(owner, name, ref) of 'owner/name[:ref]'; without a ref, 'main' if the repository
    has that branch, else 'master' (offline: whichever of the two is cached)."""
    repo, ref = github.split(":") if ":" in github else (github, None)
    owner, name = repo.split("/")
    if ref is not None:
        return owner, name, ref
    try:
        with urlopen(f"https://github.com/{owner}/{name}/tree/main/"):
            return owner, name, "main"
    except HTTPError as err:
        if err.code != 404:
            raise
        return owner, name, "master"
    except URLError as err:
        for branch in ("main", "master"):
            if os.path.exists(os.path.join(get_dir(), f"{owner}_{name}_{branch}")):
                return owner, name, branch
        raise RuntimeError("It looks like there is no internet connection and the repo could "
                           f"not be found in the cache ({get_dir()})") from err


def _github_json(url):
    token = os.environ.get("GITHUB_TOKEN")
    headers = {"Accept": "application/vnd.github.v3+json"}
    if token is not None:
        headers["Authorization"] = f"token {token}"
    try:
        reply = urlopen(Request(url, headers=headers))
    except HTTPError:
        if token is None:
            raise
        del headers["Authorization"]          # the token may lack the rights: try without
        reply = urlopen(Request(url, headers=headers))
    with reply:
        return json.loads(reply.read().decode(reply.headers.get_content_charset("utf-8")))


def _check_ref_in_repo(owner, name, ref):
    """ValueError unless ``ref`` is a branch, a tag or a commit of owner/name itself (not
    of a fork), asked of the GitHub API (``GITHUB_TOKEN`` is sent when set)."""
    for what in ("branches", "tags"):
        page = 1
        while True:
            items = _github_json(f"https://api.github.com/repos/{owner}/{name}/{what}"
                                 f"?per_page=100&page={page}")
            if not items:
                break
            if any(it["name"] == ref or it["commit"]["sha"].startswith(ref) for it in items):
                return
            page += 1
    raise ValueError(f"Cannot find {ref} in https://github.com/{owner}/{name}. If it's a "
                     "commit from a forked repo, please call hub.load() with forked repo "
                     "directly.")


def _check_trusted(owner, name, folder, trust_repo):
    """PyTorch's trust rule.  Trusted: listed in ``get_dir()/trusted_list``, already
    downloaded (a folder ``owner_name_ref`` in the cache) or owned by one of PyTorch's own
    organisations.  ``trust_repo=False``, or ``'check'`` for an untrusted repository, asks on
    stdin (y/N: 'n' or nothing raises, anything else but y is a ValueError); True or None
    trust without asking.  A repository trusted now is added to the list."""
    hub_dir = get_dir()
    listing = os.path.join(hub_dir, "trusted_list")
    if not os.path.exists(listing):
        open(listing, "a").close()
    with open(listing) as f:
        listed = {line.strip() for line in f}
    downloaded = next(os.walk(hub_dir))[1]
    key = f"{owner}_{name}"
    trusted = key in listed or folder in downloaded or owner in _KNOWN_OWNERS
    if trust_repo is False or (trust_repo == "check" and not trusted):
        answer = input(f"The repository {key} does not belong to the list of trusted "
                       "repositories and as such cannot be downloaded. Do you trust this "
                       "repository and wish to add it to the trusted list of repositories "
                       "(y/N)?")
        if answer.lower() in ("y", "yes"):
            if trusted:
                print("The repository is already trusted.")
        elif answer.lower() in ("n", "no", ""):
            raise Exception("Untrusted repository.")  # noqa: TRY002  (PyTorch's type)
        else:
            raise ValueError(f"Unrecognized response {answer}.")
    if not trusted:
        with open(listing, "a") as f:
            f.write(key + "\n")


def _extract(archive, target):
    """Extract every member of ``archive`` under ``target``; a member that would land
    outside it (absolute, or climbing with '..') is a ValueError before anything is written."""
    root = os.path.realpath(target)
    for member in archive.infolist():
        path = os.path.normpath(member.filename)
        if path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"
                                            and path[0].isalpha()):
            raise ValueError(f"Archive entry has absolute path: {member.filename}")
        if ".." in re.split(r"[/\\]", path):
            raise ValueError(f"Archive entry contains directory traversal: {member.filename}")
        where = os.path.realpath(os.path.join(root, path))
        if os.path.commonpath([root, where]) != root:
            raise ValueError(f"Archive entry escapes target directory: {member.filename}")
    archive.extractall(root)


def _fetch_repo(github, force_reload, trust_repo, verbose=True, skip_validation=False):
    """The directory in the cache holding ``github`` ('owner/name[:ref]'), downloaded (as
    GitHub's zipball of that ref) unless already there."""
    hub_dir = get_dir()
    os.makedirs(hub_dir, exist_ok=True)
    owner, name, ref = _parse_repo(github)
    flat_ref = ref.replace("/", "_")              # a branch may be called 'release/1.0'
    folder = f"{owner}_{name}_{flat_ref}"
    repo_dir = os.path.join(hub_dir, folder)
    _check_trusted(owner, name, folder, trust_repo)
    if not force_reload and os.path.exists(repo_dir):
        if verbose:
            sys.stderr.write(f"Using cache found in {repo_dir}\n")
        return repo_dir
    if not skip_validation:
        _check_ref_in_repo(owner, name, ref)
    archive = os.path.join(hub_dir, flat_ref + ".zip")
    _remove(archive)
    url = f"https://github.com/{owner}/{name}/zipball/{ref}"
    try:
        sys.stdout.write(f'Downloading: "{url}" to {archive}\n')
        download_url_to_file(url, archive, progress=False)
    except HTTPError as err:
        if err.code != 300:
            raise
        # 300 Multiple Choices: the ref names both a tag and a branch; take the branch, as git
        warn_user(f"The ref {ref} is ambiguous. Perhaps it is both a tag and a branch in "
                  "the repo? Torchhub will now assume that it's a branch. You can "
                  "disambiguate tags and branches by explicitly passing "
                  "refs/heads/branch_name or refs/tags/tag_name as the ref. That might "
                  "require using skip_validation=True.")
        download_url_to_file(f"https://github.com/{owner}/{name}/zipball/refs/heads/{ref}",
                             archive, progress=False)
    with zipfile.ZipFile(archive) as zf:
        top = zf.infolist()[0].filename           # GitHub's 'owner-name-sha/' folder
        _remove(os.path.join(hub_dir, top))
        _extract(zf, hub_dir)
    _remove(archive)
    _remove(repo_dir)
    shutil.move(os.path.join(hub_dir, top), repo_dir)
    return repo_dir


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


# ----------------------------------------------------------------------------------------------
# hubconf.py
# ----------------------------------------------------------------------------------------------
class _OnSysPath:
    """``directory`` first on sys.path inside the block (so that hubconf.py can import the
    modules beside it), removed after."""

    def __init__(self, directory):
        self.directory = os.fspath(directory)

    def __enter__(self):
        sys.path.insert(0, self.directory)

    def __exit__(self, *exc):
        if self.directory in sys.path:
            sys.path.remove(self.directory)
        return False


def _import_hubconf(directory):
    """``directory/hubconf.py`` run as a module of its own (never put in sys.modules)."""
    spec = importlib.util.spec_from_file_location("hubconf", os.path.join(directory, _HUBCONF))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _entry(module, model):
    """The callable ``model`` of a hubconf module, after checking its ``dependencies``."""
    if not isinstance(model, str):
        raise ValueError("Invalid input: model should be a string of function name")
    needs = getattr(module, "dependencies", None)
    if needs is not None:
        missing = [pkg for pkg in needs if importlib.util.find_spec(pkg) is None]
        if missing:
            raise RuntimeError(f"Missing dependencies: {', '.join(missing)}")
    func = getattr(module, model, None)
    if func is None or not callable(func):
        raise RuntimeError(f"Cannot find callable {model} in hubconf")
    return func


def list(github, force_reload=False, skip_validation=False, trust_repo="check",  # noqa: A001
         verbose=True):
    """The names of the entry points (public callables) of the ``hubconf.py`` of GitHub
    repository ``github`` ('owner/name[:ref]'), downloading it unless cached."""
    repo_dir = _fetch_repo(github, force_reload, trust_repo, verbose=verbose,
                           skip_validation=skip_validation)
    with _OnSysPath(repo_dir):
        module = _import_hubconf(repo_dir)
    return [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))]


def help(github, model, force_reload=False, skip_validation=False,  # noqa: A001
         trust_repo="check"):
    """The docstring of entry point ``model`` of GitHub repository ``github``."""
    repo_dir = _fetch_repo(github, force_reload, trust_repo, verbose=True,
                           skip_validation=skip_validation)
    with _OnSysPath(repo_dir):
        module = _import_hubconf(repo_dir)
    return _entry(module, model).__doc__


def load(repo_or_dir, model, *args, source="github", trust_repo="check", force_reload=False,
         verbose=True, skip_validation=False, **kwargs):
    """``model(*args, **kwargs)``, ``model`` being an entry point of the ``hubconf.py`` of
    ``repo_or_dir``: a GitHub repository 'owner/name[:ref]' (``source='github'``, downloaded
    into ``get_dir()`` unless cached or ``force_reload``) or a directory
    (``source='local'``).  The directory is on sys.path while the hubconf is imported and
    the entry point runs, and only then."""
    source = source.lower()
    if source not in ("github", "local"):
        raise ValueError(f'Unknown source: "{source}". Allowed values: "github" | "local".')
    if source == "github":
        repo_or_dir = _fetch_repo(repo_or_dir, force_reload, trust_repo, verbose=verbose,
                                  skip_validation=skip_validation)
    with _OnSysPath(repo_or_dir):
        module = _import_hubconf(repo_or_dir)
        return _entry(module, model)(*args, **kwargs)

