// Package hugepage asks the kernel to back a worker's Go heap with
// transparent huge pages where the kernel gives them only when asked.
//
// Why: a worker lives for one job, so every page its tasks use is touched for
// the first time during the job, and on the virtual machines Quern is
// measured on a first touch of a 4 KiB page costs 10–14 µs (a fault that
// leaves the guest). Word count over 256 MiB took about 15,000 such faults,
// 10,000 of them in its workers' tasks (the combining table as it doubles,
// its key arena, the sort buffer, fresh heap spans): a tenth of the job's
// CPU time. A 2 MiB huge page is mapped by one fault, and the same 64 MiB
// touched page by page takes 4–6 ms instead of 180–230 ms.
//
// How: Go maps its heap in pieces as the heap grows, and since Go 1.21.1 it
// does not ask for huge pages itself, so where the kernel's THP mode is
// "madvise" (the default of Debian, Ubuntu and most distributions) the heap
// gets none. GrowHeap makes the heap grow by n bytes at once with one
// allocation that is never touched, advises its range MADV_HUGEPAGE and lets
// it go: the allocations that follow reuse those addresses, and the advice
// stays with the mapping after the runtime returns pages to the kernel. Where
// the mode is "always" the heap has huge pages already, where it is "never"
// advice is ignored, and on other systems GrowHeap does nothing.
package hugepage

// Size is the size of a huge page on the systems where GrowHeap advises.
const Size = 2 << 20
