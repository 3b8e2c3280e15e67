// runWorker (common/ipc/worker_start.h): the body of one worker process
// after fork, its Server, Store and Router.
#pragma once

#include "common/ipc/worker_start.h"
