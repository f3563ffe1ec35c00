/* fork's copy-on-write must reach every CPU's translations at once (the
 * fork variant of mprotect.c): the parent writes 1 into a page (so its
 * writable translation is hot), forks, then writes 2; the child, which read
 * the page in a loop before and after, must still see 1; the child writes
 * 3 and the parent must still see 2. Then the other order: the child
 * writes first and the parent must still see its value, then the parent
 * writes and the child must see its own. 200 rounds each over fresh pages:
 * a 4-page anonymous mapping at a fixed address (unmapped and mapped again
 * each round, so frames change under the same address) and a malloc'd
 * 64 KiB region. Pipes sequence the two sides. Each line says yes when
 * all 200 rounds held (else how many did); exit status 1 on any failure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUNDS 200
#define MAP_PAGES 4
#define HEAP_BYTES (64 * 1024)

static int read_byte(int fd)
{
	unsigned char c;
	ssize_t n;
	while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
		;
	return n == 1 ? c : -1;
}

static void write_byte(int fd, int c)
{
	unsigned char b = (unsigned char)c;
	while (write(fd, &b, 1) < 0 && errno == EINTR)
		;
}

/* Read every page's first word many times (the translations stay hot);
 * the sum only keeps the loop from being optimised away. */
static unsigned long spin_read(volatile int *p, size_t stride, int pages)
{
	unsigned long sum = 0;
	for (int k = 0; k < 1000; k++)
		for (int i = 0; i < pages; i++)
			sum += (unsigned)p[i * stride];
	return sum;
}

static int all(volatile int *p, size_t stride, int pages, int v)
{
	for (int i = 0; i < pages; i++)
		if (p[i * stride] != v)
			return 0;
	return 1;
}

static void set(volatile int *p, size_t stride, int pages, int v)
{
	for (int i = 0; i < pages; i++)
		p[i * stride] = v;
}

/* One round over pages p[0], p[stride], ...; returns 0 if both sides
 * kept their own values, else a bit set per failure. parent_first picks
 * who writes first after fork. */
static int round_trip(volatile int *p, size_t stride, int pages, int parent_first)
{
	int to_child[2], to_parent[2];
	if (pipe(to_child) != 0 || pipe(to_parent) != 0) {
		perror("pipe");
		exit(2);
	}
	set(p, stride, pages, 1); /* hot writable translations in the parent */
	fflush(stdout);
	pid_t c = fork();
	if (c < 0) {
		perror("fork");
		exit(2);
	}
	if (c == 0) {
		close(to_child[1]);
		close(to_parent[0]);
		int bad = 0;
		volatile unsigned long sink = spin_read(p, stride, pages);
		(void)sink;
		if (parent_first) {
			read_byte(to_child[0]); /* the parent has written 2 */
			sink = spin_read(p, stride, pages);
			if (!all(p, stride, pages, 1))
				bad |= 1;
			set(p, stride, pages, 3);
			write_byte(to_parent[1], 'w');
		} else {
			set(p, stride, pages, 3);
			write_byte(to_parent[1], 'w');
			read_byte(to_child[0]); /* the parent has written 2 */
			if (!all(p, stride, pages, 3))
				bad |= 1;
		}
		if (!all(p, stride, pages, 3))
			bad |= 2;
		_exit(bad);
	}
	close(to_child[0]);
	close(to_parent[1]);
	int bad = 0;
	if (parent_first) {
		set(p, stride, pages, 2);
		write_byte(to_child[1], 'g');
		read_byte(to_parent[0]); /* the child has written 3 */
		if (!all(p, stride, pages, 2))
			bad |= 4;
	} else {
		read_byte(to_parent[0]); /* the child has written 3 */
		if (!all(p, stride, pages, 1))
			bad |= 4;
		set(p, stride, pages, 2);
		write_byte(to_child[1], 'g');
	}
	int st;
	while (waitpid(c, &st, 0) < 0 && errno == EINTR)
		;
	close(to_child[1]);
	close(to_parent[0]);
	if (!all(p, stride, pages, 2))
		bad |= 8;
	if (!WIFEXITED(st))
		bad |= 16;
	else
		bad |= WEXITSTATUS(st);
	return bad;
}

struct tally {
	int rounds, child_old, child_own, parent_own, parent_after, died;
};

static void count(struct tally *t, int bad)
{
	t->rounds++;
	t->child_old += !(bad & 1);
	t->child_own += !(bad & 2);
	t->parent_own += !(bad & 4);
	t->parent_after += !(bad & 8);
	t->died += !!(bad & 16);
}

static int failed;

static void yes_or_count(const char *label, int n, int rounds)
{
	failed |= n != rounds;
	if (n == rounds)
		printf(", %s: yes", label);
	else
		printf(", %s: no (%d of %d rounds)", label, n, rounds);
}

static void report(int num, const char *what, int parent_first, struct tally *t)
{
	printf("%d %s, %s writes first: %d rounds", num, what, parent_first ? "parent" : "child", t->rounds);
	yes_or_count(parent_first ? "child sees old value" : "child sees its own value", t->child_old, t->rounds);
	yes_or_count("child keeps its write", t->child_own, t->rounds);
	yes_or_count(parent_first ? "parent sees its value" : "parent sees old value", t->parent_own, t->rounds);
	yes_or_count("parent's value after the child exits", t->parent_after, t->rounds);
	failed |= t->died != 0;
	if (t->died)
		printf(", children died: %d", t->died);
	printf("\n");
}

int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t stride = (size_t)pg / sizeof(int);
	char *fixed = (char *)0x20000000;

	for (int parent_first = 1; parent_first >= 0; parent_first--) {
		struct tally t;
		memset(&t, 0, sizeof t);
		for (int i = 0; i < ROUNDS; i++) {
			/* Another mapping in between so freed frames are not simply
			 * handed back in place. */
			char *p = mmap(fixed, (size_t)pg * MAP_PAGES, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			char *q = mmap(fixed + 0x100000, (size_t)pg, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			if (p == MAP_FAILED || q == MAP_FAILED) {
				perror("mmap");
				return 2;
			}
			if (!all((volatile int *)p, stride, MAP_PAGES, 0)) {
				printf("stale data in a fresh mapping at round %d\n", i);
				return 1;
			}
			q[0] = 1;
			count(&t, round_trip((volatile int *)p, stride, MAP_PAGES, parent_first));
			munmap(q, (size_t)pg);
			munmap(p, (size_t)pg * MAP_PAGES);
		}
		report(parent_first ? 1 : 3, "mmap", parent_first, &t);

		memset(&t, 0, sizeof t);
		for (int i = 0; i < ROUNDS; i++) {
			char *h = malloc(HEAP_BYTES);
			if (!h) {
				perror("malloc");
				return 2;
			}
			int pages = (int)(HEAP_BYTES / pg) - 1;
			/* Page-aligned start inside the block. */
			volatile int *a = (volatile int *)(((unsigned long)h + (size_t)pg - 1) & ~((unsigned long)pg - 1));
			count(&t, round_trip(a, stride, pages, parent_first));
			free(h);
		}
		report(parent_first ? 2 : 4, "malloc", parent_first, &t);
	}
	printf("forkpage: done\n");
	return failed;
}
