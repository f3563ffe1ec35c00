// A static C++ program, single-threaded: iostreams, a guarded function-local
// static, std::call_once, exceptions across frames, std::mutex and
// std::lock_guard, the containers, and std::condition_variable::wait_for
// timing out. libstdc++ reaches futex (call_once, condition_variable) and
// the unwinder (dl_iterate_phdr, .eh_frame_hdr) through these.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

int constructions;

struct Counter {
	int value;
	explicit Counter(int v) : value(v) { ++constructions; }
	~Counter() { std::cout << "Counter destroyed at exit, value " << value << "\n"; }
};

// Not constant-initializable: the compiler guards it with __cxa_guard_*.
Counter &counter()
{
	static Counter c(constructions + 41);
	return c;
}

std::once_flag once;
int once_calls;

void init_once(const char *who)
{
	++once_calls;
	std::cout << "call_once ran for " << who << "\n";
}

struct Noisy {
	std::string name;
	explicit Noisy(std::string n) : name(std::move(n)) { std::cout << "  construct " << name << "\n"; }
	~Noisy() { std::cout << "  destroy " << name << "\n"; }
};

[[gnu::noinline]] int depth3(int x)
{
	Noisy n("depth3");
	if (x > 2)
		throw std::runtime_error("too deep: " + std::to_string(x));
	return x;
}

[[gnu::noinline]] int depth2(int x)
{
	Noisy n("depth2");
	return depth3(x + 1) + 1;
}

[[gnu::noinline]] int depth1(int x)
{
	Noisy n("depth1");
	try {
		return depth2(x + 1);
	} catch (const std::logic_error &) {
		std::cout << "  wrong handler\n";
		return -1;
	}
}

struct Custom {
	int code;
};

} // namespace

int main()
{
	std::cout << "hello from C++ " << 42 << ' ' << 2.5 << ' ' << std::hex << 255 << std::dec << "\n";

	std::cout << "-- function-local static\n";
	std::cout << "first call: " << counter().value << ", constructions " << constructions << "\n";
	counter().value++;
	std::cout << "second call: " << counter().value << ", constructions " << constructions << "\n";

	std::cout << "-- call_once\n";
	std::call_once(once, init_once, "first");
	std::call_once(once, init_once, "second");
	std::cout << "once_calls " << once_calls << "\n";
	std::once_flag throwing;
	for (int i = 0; i < 3; i++) {
		try {
			std::call_once(throwing, [i] {
				if (i < 2)
					throw Custom{i};
				std::cout << "call_once succeeded on try " << i << "\n";
			});
		} catch (const Custom &c) {
			std::cout << "call_once threw " << c.code << "; flag stays unset\n";
		}
	}

	std::cout << "-- exceptions\n";
	int r = depth1(0);
	std::cout << "depth1(0) = " << r << "\n";
	try {
		depth1(1);
	} catch (const std::exception &e) {
		std::cout << "caught std::exception: " << e.what() << "\n";
	}
	try {
		throw Custom{7};
	} catch (int) {
		std::cout << "wrong handler\n";
	} catch (Custom &c) {
		std::cout << "caught Custom " << c.code << "\n";
	}
	try {
		try {
			throw std::out_of_range("inner");
		} catch (std::exception &) {
			std::cout << "rethrowing\n";
			throw;
		}
	} catch (const std::out_of_range &e) {
		std::cout << "caught rethrown out_of_range: " << e.what() << "\n";
	}
	try {
		std::vector<int> v(3);
		v.at(10) = 1;
	} catch (const std::out_of_range &) {
		std::cout << "vector::at threw out_of_range\n";
	}
	try {
		std::stoi("not a number");
	} catch (const std::invalid_argument &) {
		std::cout << "stoi threw invalid_argument\n";
	}

	std::cout << "-- mutex\n";
	std::mutex m;
	m.lock();
	std::cout << "try_lock while locked: " << m.try_lock() << "\n";
	m.unlock();
	std::cout << "try_lock while unlocked: " << m.try_lock() << "\n";
	m.unlock();
	{
		std::lock_guard<std::mutex> g(m);
		std::cout << "lock_guard holds it; try_lock: " << m.try_lock() << "\n";
	}
	std::cout << "after lock_guard, try_lock: " << m.try_lock() << "\n";
	m.unlock();
	std::recursive_mutex rm;
	rm.lock();
	std::cout << "recursive try_lock: " << rm.try_lock() << "\n";
	rm.unlock();
	rm.unlock();
	// Relocking a plain mutex one holds deadlocks in glibc, so a timed
	// attempt times out (a futex wait with an absolute deadline).
	std::timed_mutex tm;
	tm.lock();
	auto t0 = std::chrono::steady_clock::now();
	bool got = tm.try_lock_for(std::chrono::milliseconds(10));
	auto waited = std::chrono::steady_clock::now() - t0;
	std::cout << "timed_mutex try_lock_for 10 ms while locked: " << got
		  << ", waited >= 10 ms: " << (waited >= std::chrono::milliseconds(10)) << "\n";
	tm.unlock();

	std::cout << "-- containers\n";
	auto p = std::make_unique<Noisy>("unique");
	std::unique_ptr<Noisy> q = std::move(p);
	std::cout << "moved: p empty " << (p == nullptr) << ", q " << q->name << "\n";
	q.reset();
	std::vector<int> v;
	for (int i = 0; i < 1000; i++)
		v.push_back(i * i);
	long sum = 0;
	for (int x : v)
		sum += x;
	std::cout << "vector size " << v.size() << ", sum " << sum << "\n";
	std::string s = "kvm";
	s += "cage";
	s.insert(0, std::string(3, '>'));
	std::cout << "string " << s << " length " << s.size() << " find " << s.find("cage") << "\n";
	std::map<std::string, int> words;
	std::istringstream in("the quick brown fox jumps over the lazy dog the end");
	for (std::string w; in >> w;)
		words[w]++;
	for (const auto &kv : words)
		std::cout << "  " << kv.first << '=' << kv.second << "\n";

	std::cout << "-- condition_variable\n";
	std::condition_variable cv;
	std::unique_lock<std::mutex> lk(m);
	bool ready = false;
	t0 = std::chrono::steady_clock::now();
	bool ok = cv.wait_for(lk, std::chrono::milliseconds(10), [&] { return ready; });
	waited = std::chrono::steady_clock::now() - t0;
	std::cout << (ok ? "predicate true" : "timeout") << ", waited >= 10 ms: "
		  << (waited >= std::chrono::milliseconds(10)) << ", still locked: " << lk.owns_lock() << "\n";
	auto st = cv.wait_for(lk, std::chrono::milliseconds(5));
	std::cout << "wait_for without predicate: "
		  << (st == std::cv_status::timeout ? "timeout" : "no_timeout") << "\n";
	auto until = std::chrono::system_clock::now() + std::chrono::milliseconds(5);
	st = cv.wait_until(lk, until);
	std::cout << "wait_until system_clock: " << (st == std::cv_status::timeout ? "timeout" : "no_timeout")
		  << ", past the deadline: " << (std::chrono::system_clock::now() >= until) << "\n";
	cv.notify_one();
	cv.notify_all();
	std::cout << "notify with nobody waiting: fine\n";
	lk.unlock();

	std::printf("printf and cout share stdout\n");
	std::fflush(stdout);
	std::cout << "exit" << std::endl;
	return 3;
}
