/* The name of an errno value, so the output reads the same under glibc and
 * musl (strerror's wording differs between them, strerrorname_np is
 * glibc-only). Unlisted values print as their number.
 * check() prints "what: ok" or "what: errno NAME" for a call returning -1
 * on failure. */
#include <errno.h>
#include <stdio.h>
__attribute__((unused)) static const char *errname(int e)
{
	static char buf[24];
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case EXDEV: return "EXDEV";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case EMFILE: return "EMFILE";
	case EFBIG: return "EFBIG";
	case ENOSPC: return "ENOSPC";
	case ESPIPE: return "ESPIPE";
	case EROFS: return "EROFS";
	case EPIPE: return "EPIPE";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOSYS: return "ENOSYS";
	case ENOTEMPTY: return "ENOTEMPTY";
	case ELOOP: return "ELOOP";
	case EOVERFLOW: return "EOVERFLOW";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENOTSOCK: return "ENOTSOCK";
	case EDESTADDRREQ: return "EDESTADDRREQ";
	case EMSGSIZE: return "EMSGSIZE";
	case EPROTOTYPE: return "EPROTOTYPE";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EADDRINUSE: return "EADDRINUSE";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case ECONNRESET: return "ECONNRESET";
	case EISCONN: return "EISCONN";
	case ENOTCONN: return "ENOTCONN";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ENXIO: return "ENXIO";
	case ENODEV: return "ENODEV";
	case E2BIG: return "E2BIG";
	case ENOMSG: return "ENOMSG";
	case EIDRM: return "EIDRM";
	case ERANGE: return "ERANGE";
	}
	snprintf(buf, sizeof buf, "%d", e);
	return buf;
}
__attribute__((unused)) static int check(const char *what, long r)
{
	if (r < 0)
		printf("%s: errno %s\n", what, errname(errno));
	else
		printf("%s: ok\n", what);
	fflush(stdout);
	return r < 0 ? -1 : 0;
}
/* Print what a call returned: its value, or its errno's name. */
__attribute__((unused)) static void ret(const char *what, long r)
{
	if (r < 0)
		printf("%s: errno %s\n", what, errname(errno));
	else
		printf("%s: %ld\n", what, r);
	fflush(stdout);
}

/* "what: r", or "what: -1 ENAME" for a call that failed (errno as the call
 * left it). */
__attribute__((unused)) static void say(const char *what, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, errname(errno));
	else
		printf("%s: %ld\n", what, r);
}
