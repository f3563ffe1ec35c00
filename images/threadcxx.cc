// Static C++ with threads (libstdc++ over glibc's pthreads): std::thread
// and std::atomic, std::async with futures (values and an exception carried
// across), std::promise, std::mutex with std::condition_variable (ping-pong
// with strict turns), std::shared_mutex, thread_local objects constructed and
// destroyed once per thread, std::call_once racing from 4 threads, and
// this_thread ids. Only totals and yes/no answers are printed. (No
// std::jthread: g++ 12 defaults to gnu++17.)
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

std::atomic<long> counter{0};

void add_many(int n)
{
	for (int i = 0; i < n; i++)
		counter.fetch_add(1, std::memory_order_relaxed);
}

long square(long i)
{
	return i * i;
}

long throws_for_odd(long i)
{
	if (i % 2)
		throw std::runtime_error("odd");
	return i;
}

// Ping-pong: two threads take strict turns through one mutex and condvar.
std::mutex m;
std::condition_variable cv;
int turn; // 0: ping's turn, 1: pong's
int exchanges;

void player(int me, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		std::unique_lock<std::mutex> lk(m);
		cv.wait(lk, [me] { return turn == me; });
		exchanges++;
		turn = 1 - me;
		cv.notify_all();
	}
}

std::shared_mutex sm;
long shared_a, shared_b;
std::atomic<int> torn{0};

void reader()
{
	for (int i = 0; i < 10000; i++) {
		std::shared_lock<std::shared_mutex> lk(sm);
		if (shared_a != shared_b)
			torn = 1;
		if (i % 1000 == 0)
			std::this_thread::yield();
	}
}

void writer()
{
	for (int i = 0; i < 2000; i++) {
		std::unique_lock<std::shared_mutex> lk(sm);
		shared_a++;
		if (i % 200 == 0)
			std::this_thread::yield();
		shared_b++;
	}
}

std::atomic<int> tl_constructed{0}, tl_destroyed{0};

struct PerThread {
	int value;
	PerThread() : value(100) { tl_constructed++; }
	~PerThread() { tl_destroyed++; }
};

thread_local PerThread per_thread;
thread_local int tl_plain = 5;

int tl_worker(int me)
{
	int ok = per_thread.value == 100 && tl_plain == 5;
	per_thread.value = me;
	tl_plain = me * 2;
	for (int i = 0; i < 5; i++)
		std::this_thread::yield();
	return ok && per_thread.value == me && tl_plain == me * 2;
}

std::once_flag once;
std::atomic<int> once_runs{0};

} // namespace

int main()
{
	std::vector<std::thread> ts;
	for (int i = 0; i < 4; i++)
		ts.emplace_back(add_many, 100000);
	for (auto &t : ts)
		t.join();
	std::printf("std::thread x4 with atomic<long>: %ld\n", counter.load());

	std::vector<std::future<long>> fs;
	for (long i = 1; i <= 10; i++)
		fs.push_back(std::async(std::launch::async, square, i));
	long sum = 0;
	for (auto &f : fs)
		sum += f.get();
	std::printf("std::async sum of squares 1..10: %ld\n", sum);

	int caught = 0;
	long even_sum = 0;
	std::vector<std::future<long>> gs;
	for (long i = 1; i <= 6; i++)
		gs.push_back(std::async(std::launch::async, throws_for_odd, i));
	for (auto &g : gs) {
		try {
			even_sum += g.get();
		} catch (const std::runtime_error &e) {
			caught++;
		}
	}
	std::printf("std::async exceptions caught: %d, even sum: %ld\n", caught, even_sum);

	std::promise<int> p;
	std::future<int> pf = p.get_future();
	std::thread pt([&p] { p.set_value(42); });
	int pv = pf.get();
	pt.join();
	std::printf("std::promise from a thread: %d\n", pv);

	std::thread ping(player, 0, 1000), pong(player, 1, 1000);
	ping.join();
	pong.join();
	std::printf("mutex + condition_variable ping-pong: %d exchanges, turn %d\n",
		    exchanges, turn);

	std::vector<std::thread> rw;
	for (int i = 0; i < 3; i++)
		rw.emplace_back(reader);
	rw.emplace_back(writer);
	for (auto &t : rw)
		t.join();
	std::printf("shared_mutex: %ld writes, torn reads: %d\n", shared_b, torn.load());

	per_thread.value = 7; // main's own
	std::vector<std::future<int>> tl;
	for (int i = 1; i <= 4; i++)
		tl.push_back(std::async(std::launch::async, tl_worker, i));
	int tl_ok = 0;
	for (auto &f : tl)
		tl_ok += f.get();
	std::printf("thread_local: %d of 4 threads saw fresh copies, main's kept: %d, "
		    "constructed %d, destroyed %d\n",
		    tl_ok, per_thread.value == 7, tl_constructed.load(), tl_destroyed.load());

	std::vector<std::thread> os;
	for (int i = 0; i < 4; i++)
		os.emplace_back([] { std::call_once(once, [] { once_runs++; }); });
	for (auto &t : os)
		t.join();
	std::printf("call_once from 4 threads: ran %d\n", once_runs.load());

	std::thread::id main_id = std::this_thread::get_id(), other_id;
	std::thread idt([&other_id] { other_id = std::this_thread::get_id(); });
	std::thread::id idt_id = idt.get_id();
	idt.join();
	std::printf("thread ids: other != main: %d, get_id() matches: %d, joined is "
		    "not joinable: %d, hardware_concurrency >= 1: %d\n",
		    other_id != main_id, other_id == idt_id, !idt.joinable(),
		    std::thread::hardware_concurrency() >= 1);
	std::puts("threadcxx: done");
	return 0;
}
