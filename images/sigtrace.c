/* Signals as strace shows them: tgkill and kill to self, sigqueue with a
 * value, a blocked signal let in by sigprocmask, SIGALRM ending pause(),
 * and a SIGSEGV that kills (tests/strace.rs compares the signal lines). */
#include <signal.h>
#include <unistd.h>
#include <stdlib.h>
#include <sys/time.h>
static void h(int s){}
int main(){ signal(SIGUSR1,h); raise(SIGUSR1); kill(getpid(),SIGUSR1);
 union sigval v={.sival_int=42}; signal(SIGRTMIN+1,h); sigqueue(getpid(),SIGRTMIN+1,v);
 sigset_t s; sigemptyset(&s); sigaddset(&s,SIGUSR2); sigaddset(&s,SIGHUP); sigprocmask(SIG_BLOCK,&s,0); signal(SIGUSR2,h); raise(SIGUSR2); sigprocmask(SIG_UNBLOCK,&s,0);
 signal(SIGALRM,h); struct itimerval it={{0,0},{0,1000}}; setitimer(ITIMER_REAL,&it,0); pause();
 *(volatile int*)16=1; }
