package org.metisfl.learner.internal;

import java.util.Iterator;
import java.util.LinkedHashSet;

/** The ids of the most recently completed tasks, bounded so a long federation does not grow it. */
final class RecentIds {
    private final int capacity;
    private final LinkedHashSet<String> ids = new LinkedHashSet<>();

    RecentIds(int capacity) {
        this.capacity = capacity;
    }

    boolean contains(String id) {
        return ids.contains(id);
    }

    void add(String id) {
        if (ids.add(id) && ids.size() > capacity) {
            Iterator<String> oldest = ids.iterator();
            oldest.next();
            oldest.remove();
        }
    }
}
