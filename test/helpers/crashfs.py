#!/usr/bin/python3
# A FUSE file system that forgets, at a simulated power loss, everything not made durable -- the strictest reading of
# POSIX, as a disk with a volatile cache behaves:
#   - a file's bytes (and size) are durable only as of its last fsync/fdatasync;
#   - a directory's entries (creates, renames, unlinks, mkdirs in it) only as of its last fsync.
# It keeps everything in memory. On the line "crash" on stdin it writes the durable state into OUTPUT_DIR, prints
# "crashed", and from then on answers every operation with EIO: the machine is gone. It starts from INITIAL_DIR,
# whose whole content counts as durable (what survived the previous crash).
#
# Usage: crashfs.py MOUNTPOINT INITIAL_DIR OUTPUT_DIR      (root; Debian python3-fusepy and fuse3)
# Prints "ready" once mounted. Test helper only: see test/helpers/crash-fs.ts.
import errno
import os
import stat
import sys
import threading
import time

from fusepy import FUSE, FuseOSError, Operations


class Node:
    def __init__(self, mode):
        now = time.time()
        self.mode = mode
        self.atime = self.mtime = self.ctime = now
        if stat.S_ISDIR(mode):
            self.entries = {}
            self.durable_entries = {}
        else:
            self.data = bytearray()
            self.durable_data = b''


class CrashFS(Operations):
    def __init__(self, initial_dir, output_dir):
        self.mutex = threading.RLock()
        self.output_dir = output_dir
        self.dead = False
        self.handles = {}
        self.next_handle = 1
        self.root = self.load(initial_dir)

    # ---- durable state in and out ----

    def load(self, path):
        node = Node(stat.S_IFDIR | 0o755)
        for name in sorted(os.listdir(path)):
            full = os.path.join(path, name)
            info = os.lstat(full)
            if stat.S_ISDIR(info.st_mode):
                child = self.load(full)
            else:
                child = Node(stat.S_IFREG | stat.S_IMODE(info.st_mode))
                with open(full, 'rb') as f:
                    child.data = bytearray(f.read())
                child.durable_data = bytes(child.data)
            node.entries[name] = child
        node.durable_entries = dict(node.entries)
        return node

    def dump(self, node, path):
        os.makedirs(path, exist_ok=True)
        for name, child in node.durable_entries.items():
            full = os.path.join(path, name)
            if stat.S_ISDIR(child.mode):
                self.dump(child, full)
            else:
                with open(full, 'wb') as f:
                    f.write(child.durable_data)
                os.chmod(full, stat.S_IMODE(child.mode))

    def crash(self):
        with self.mutex:
            self.dead = True
            self.dump(self.root, self.output_dir)

    # ---- lookups ----

    def check(self):
        if self.dead:
            raise FuseOSError(errno.EIO)

    def lookup(self, path):
        node = self.root
        for part in [p for p in path.split('/') if p]:
            if not stat.S_ISDIR(node.mode):
                raise FuseOSError(errno.ENOTDIR)
            node = node.entries.get(part)
            if node is None:
                raise FuseOSError(errno.ENOENT)
        return node

    def parent(self, path):
        head, name = os.path.split(path.rstrip('/'))
        directory = self.lookup(head or '/')
        if not stat.S_ISDIR(directory.mode):
            raise FuseOSError(errno.ENOTDIR)
        return directory, name

    def existing(self, path):
        directory, name = self.parent(path)
        node = directory.entries.get(name)
        if node is None:
            raise FuseOSError(errno.ENOENT)
        return directory, name, node

    def node_of(self, path, fh):
        if fh is not None and fh in self.handles:
            return self.handles[fh]
        return self.lookup(path)

    def handle(self, node):
        fh = self.next_handle
        self.next_handle += 1
        self.handles[fh] = node
        return fh

    # ---- operations ----

    def init(self, path):
        print('ready', flush=True)

    def getattr(self, path, fh=None):
        with self.mutex:
            self.check()
            node = self.node_of(path, fh)
            size = len(node.data) if not stat.S_ISDIR(node.mode) else 4096
            nlink = 2 + sum(1 for c in node.entries.values() if stat.S_ISDIR(c.mode)) if stat.S_ISDIR(node.mode) else 1
            return {
                'st_mode': node.mode, 'st_nlink': nlink, 'st_size': size, 'st_uid': os.getuid(), 'st_gid': os.getgid(),
                'st_atime': node.atime, 'st_mtime': node.mtime, 'st_ctime': node.ctime, 'st_blocks': (size + 511) // 512,
            }

    def readdir(self, path, fh):
        with self.mutex:
            self.check()
            return ['.', '..'] + list(self.lookup(path).entries.keys())

    def access(self, path, amode):
        with self.mutex:
            self.check()
            self.lookup(path)
            return 0

    def statfs(self, path):
        return {'f_bsize': 4096, 'f_frsize': 4096, 'f_blocks': 1 << 20, 'f_bfree': 1 << 19, 'f_bavail': 1 << 19,
                'f_files': 1 << 20, 'f_ffree': 1 << 19, 'f_namemax': 255}

    def mkdir(self, path, mode):
        with self.mutex:
            self.check()
            directory, name = self.parent(path)
            if name in directory.entries:
                raise FuseOSError(errno.EEXIST)
            directory.entries[name] = Node(stat.S_IFDIR | (mode & 0o7777))
            directory.mtime = time.time()

    def rmdir(self, path):
        with self.mutex:
            self.check()
            directory, name, node = self.existing(path)
            if not stat.S_ISDIR(node.mode):
                raise FuseOSError(errno.ENOTDIR)
            if node.entries:
                raise FuseOSError(errno.ENOTEMPTY)
            del directory.entries[name]

    def create(self, path, mode, fi=None):
        with self.mutex:
            self.check()
            directory, name = self.parent(path)
            node = directory.entries.get(name)
            if node is None:
                node = Node(stat.S_IFREG | (mode & 0o7777))
                directory.entries[name] = node
                directory.mtime = time.time()
            return self.handle(node)

    def open(self, path, flags):
        with self.mutex:
            self.check()
            node = self.lookup(path)
            if flags & os.O_TRUNC:
                node.data = bytearray()
            return self.handle(node)

    def opendir(self, path):
        with self.mutex:
            self.check()
            return self.handle(self.lookup(path))

    def release(self, path, fh):
        with self.mutex:
            self.handles.pop(fh, None)
            return 0

    def releasedir(self, path, fh):
        return self.release(path, fh)

    def flush(self, path, fh):
        with self.mutex:
            self.check()
            return 0

    def read(self, path, size, offset, fh):
        with self.mutex:
            self.check()
            node = self.node_of(path, fh)
            return bytes(node.data[offset:offset + size])

    def write(self, path, data, offset, fh):
        with self.mutex:
            self.check()
            node = self.node_of(path, fh)
            if offset > len(node.data):
                node.data.extend(b'\0' * (offset - len(node.data)))
            node.data[offset:offset + len(data)] = data
            node.mtime = time.time()
            return len(data)

    def truncate(self, path, length, fh=None):
        with self.mutex:
            self.check()
            node = self.node_of(path, fh)
            if length < len(node.data):
                del node.data[length:]
            else:
                node.data.extend(b'\0' * (length - len(node.data)))
            node.mtime = time.time()

    def fsync(self, path, datasync, fh):
        with self.mutex:
            self.check()
            node = self.node_of(path, fh)
            node.durable_data = bytes(node.data)
            return 0

    def fsyncdir(self, path, datasync, fh):
        with self.mutex:
            self.check()
            node = self.node_of(path, fh)
            node.durable_entries = dict(node.entries)
            return 0

    def unlink(self, path):
        with self.mutex:
            self.check()
            directory, name, node = self.existing(path)
            if stat.S_ISDIR(node.mode):
                raise FuseOSError(errno.EISDIR)
            del directory.entries[name]
            directory.mtime = time.time()

    def rename(self, old, new):
        with self.mutex:
            self.check()
            source, old_name, node = self.existing(old)
            target, new_name = self.parent(new)
            existing = target.entries.get(new_name)
            if existing is not None and stat.S_ISDIR(existing.mode) and existing.entries:
                raise FuseOSError(errno.ENOTEMPTY)
            del source.entries[old_name]
            target.entries[new_name] = node
            source.mtime = target.mtime = time.time()

    def utimens(self, path, times=None):
        with self.mutex:
            self.check()
            node = self.lookup(path)
            node.atime, node.mtime = times if times else (time.time(), time.time())

    def chmod(self, path, mode):
        with self.mutex:
            self.check()
            node = self.lookup(path)
            node.mode = (node.mode & ~0o7777) | (mode & 0o7777)

    def chown(self, path, uid, gid):
        with self.mutex:
            self.check()
            self.lookup(path)


def main():
    mountpoint, initial_dir, output_dir = sys.argv[1:4]
    fs = CrashFS(initial_dir, output_dir)

    def control():
        for line in sys.stdin:
            if line.strip() == 'crash':
                fs.crash()
                print('crashed', flush=True)

    threading.Thread(target=control, daemon=True).start()
    # hard_remove: an unlinked file that is still open is gone at once (no .fuse_hidden files in directories).
    FUSE(fs, mountpoint, foreground=True, nothreads=False, hard_remove=True, big_writes=True, max_write=1 << 20,
         default_permissions=False, fsname='crashfs')


if __name__ == '__main__':
    main()
