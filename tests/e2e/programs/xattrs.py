"""Extended attributes of the guest's own: absent names, namespaces, XATTR_CREATE and
XATTR_REPLACE, an empty value, the fd forms, removal, none on a symbolic link; lxfs's
own metadata never shows."""
import errno
import os

open("xa.txt", "w").write("x")
for attempt in (lambda: os.getxattr("xa.txt", "user.missing"),
                lambda: os.getxattr("xa.txt", "security.selinux"),
                lambda: os.setxattr("xa.txt", "bogus.name", b"x"),
                lambda: os.setxattr("xa.txt", "user.a", b"1", os.XATTR_REPLACE),
                lambda: os.removexattr("xa.txt", "user.a")):
    try:
        attempt()
    except OSError as e:
        print(errno.errorcode[e.errno])
os.setxattr("xa.txt", "user.a", b"first")
os.setxattr("xa.txt", "user.empty", b"")
try:
    os.setxattr("xa.txt", "user.a", b"again", os.XATTR_CREATE)
except OSError as e:
    print("create existing:", errno.errorcode[e.errno])
os.setxattr("xa.txt", "user.a", b"second", os.XATTR_REPLACE)
print(os.getxattr("xa.txt", "user.a"), os.getxattr("xa.txt", "user.empty"), sorted(os.listxattr("xa.txt")))
fd = os.open("xa.txt", os.O_RDONLY)
print(os.getxattr(fd, "user.a"), sorted(os.listxattr(fd)))
os.removexattr("xa.txt", "user.a")
print(sorted(os.listxattr("xa.txt")))
os.symlink("xa.txt", "xa.link")
try:
    os.setxattr("xa.link", "user.b", b"1", follow_symlinks=False)
except OSError as e:
    print("on a link:", errno.errorcode[e.errno])
print(os.listxattr("xa.link"))
os.unlink("xa.link")
os.unlink("xa.txt")
