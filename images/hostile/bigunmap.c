/* munmap, mprotect and madvise over 2^46 bytes must cost what Linux's cost:
 * bookkeeping, not a walk over every page. Same output natively and under
 * kvmcage; the test requires exit 0 within 5 seconds of wall time.
 *
 * A 2^46-byte PROT_NONE|MAP_NORESERVE reservation (no memory behind it until
 * touched), then the three calls on all of it, and the same calls on a
 * 2^46-byte range with nothing mapped.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include "errname.h"

#define LEN (1UL << 46)

int main(void)
{
	char *p = mmap(NULL, LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		printf("reserve: errno %s\n", errname(errno));
		return 1;
	}
	printf("reserve: ok\n");
	/* Accessible pages are committed memory in kvmcage (--mem is strict
	 * accounting, like vm.overcommit_memory=2), so only a part that fits is
	 * made readable; the calls below still span all 2^46 bytes. */
	ret("mprotect 16M PROT_READ", mprotect(p, 16 << 20, PROT_READ));
	ret("madvise DONTNEED", madvise(p, LEN, MADV_DONTNEED));
	ret("mprotect PROT_NONE", mprotect(p, LEN, PROT_NONE));
	/* A page in the middle, touched, then the whole range again. */
	ret("mprotect middle rw", mprotect(p + LEN / 2, 4096, PROT_READ | PROT_WRITE));
	p[LEN / 2] = 1;
	ret("madvise DONTNEED again", madvise(p, LEN, MADV_DONTNEED));
	printf("middle after DONTNEED: %d\n", p[LEN / 2]);
	ret("munmap", munmap(p, LEN));
	/* Nothing mapped there now. */
	ret("munmap unmapped", munmap(p, LEN));
	ret("mprotect unmapped", mprotect(p, LEN, PROT_READ));
	ret("madvise unmapped", madvise(p, LEN, MADV_DONTNEED));
	/* And a fresh reservation again: the space is free. */
	char *q = mmap(NULL, LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	printf("reserve again: %s\n", q == MAP_FAILED ? errname(errno) : "ok");
	if (q != MAP_FAILED)
		ret("munmap again", munmap(q, LEN));
	return 0;
}
