"""ITIMER_VIRTUAL and ITIMER_PROF count processor time: none while asleep, SIGVTALRM and
SIGPROF while computing; getitimer, disarming."""
import signal
import time

hits = {"VTALRM": 0, "PROF": 0}
signal.signal(signal.SIGVTALRM, lambda *a: hits.__setitem__("VTALRM", hits["VTALRM"] + 1))
signal.signal(signal.SIGPROF, lambda *a: hits.__setitem__("PROF", hits["PROF"] + 1))
signal.setitimer(signal.ITIMER_VIRTUAL, 0.05, 0.05)
signal.setitimer(signal.ITIMER_PROF, 0.2)
time.sleep(0.3)                                   # sleeping uses no processor time
print("while asleep:", hits)
value, interval = signal.getitimer(signal.ITIMER_VIRTUAL)
print("armed:", 0 < value <= 0.06, interval == 0.05)
started = time.process_time()
while hits["VTALRM"] < 3 or hits["PROF"] < 1:       # compute until they fire
    sum(range(1000))
print("after computing:", hits["VTALRM"] >= 3, hits["PROF"] == 1)
signal.setitimer(signal.ITIMER_VIRTUAL, 0)
print("disarmed:", signal.getitimer(signal.ITIMER_VIRTUAL))
